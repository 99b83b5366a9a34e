// Entry of the NestJS 12 ESM consumer app on Fastify: listens on PORT (default 3000) on all interfaces.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';

const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter());
app.enableShutdownHooks();
await app.listen(Number(process.env['PORT'] ?? 3000), '0.0.0.0');
