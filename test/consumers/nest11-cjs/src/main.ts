// Entry of the NestJS 11 CommonJS consumer app (as `nest new` scaffolds it): listens on PORT (default 3000).
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

async function bootstrap() {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks();
  await app.listen(process.env.PORT ?? 3000);
}
bootstrap();
