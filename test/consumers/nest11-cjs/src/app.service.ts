// A service whose method is read through the cache (@Cacheable): `runs` counts the real executions.
import { Injectable } from '@nestjs/common';
import { Cacheable } from 'nestjs-layercache';

export interface Greeting {
  name: string;
  text: string;
  run: number;
}

@Injectable()
export class AppService {
  runs = 0;

  getHello(): string {
    return 'Hello World!';
  }

  @Cacheable({ key: 'greeting:{0}', ttl: 60 })
  async greet(name: string): Promise<Greeting> {
    this.runs += 1;
    return { name, text: `Hello ${name}!`, run: this.runs };
  }
}
