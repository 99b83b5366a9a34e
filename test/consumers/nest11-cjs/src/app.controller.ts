// Routes: `/` cached whole by LayerCacheInterceptor (X-Cache: MISS, then HIT); `/greetings/:name` served
// through the @Cacheable service method (its `run` stays 1 while the entry is cached).
import { Controller, Get, Param, UseInterceptors } from '@nestjs/common';
import { HttpCache, LayerCacheInterceptor } from 'nestjs-layercache';
import { AppService, type Greeting } from './app.service';

@Controller()
export class AppController {
  constructor(private readonly appService: AppService) {}

  @Get()
  @UseInterceptors(LayerCacheInterceptor)
  @HttpCache({ ttl: 30 })
  getHello(): string {
    return this.appService.getHello();
  }

  @Get('greetings/:name')
  greet(@Param('name') name: string): Promise<Greeting> {
    return this.appService.greet(name);
  }
}
