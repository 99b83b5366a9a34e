// The root module: nestjs-layercache registered with forRoot, one memory layer (no Redis in this app).
import { Module } from '@nestjs/common';
import { LayerCacheModule, MemoryLayer } from 'nestjs-layercache';
import { AppController } from './app.controller';
import { AppService } from './app.service';

@Module({
  imports: [LayerCacheModule.forRoot({ layers: [() => new MemoryLayer({ maxSize: 1_000 })], ttl: 60 })],
  controllers: [AppController],
  providers: [AppService],
})
export class AppModule {}
