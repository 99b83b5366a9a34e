// Unit test (the scaffold's, with the cache module): the controller answers, and the @Cacheable method runs once.
import { Test, TestingModule } from '@nestjs/testing';
import { AppController } from './app.controller';
import { AppModule } from './app.module';
import { AppService } from './app.service';

describe('AppController', () => {
  let module: TestingModule;
  let appController: AppController;

  beforeEach(async () => {
    module = await Test.createTestingModule({ imports: [AppModule] }).compile();
    await module.init();
    appController = module.get<AppController>(AppController);
  });

  afterEach(async () => {
    await module.close();
  });

  it('should return "Hello World!"', () => {
    expect(appController.getHello()).toBe('Hello World!');
  });

  it('runs the @Cacheable method once for repeated calls', async () => {
    const first = await appController.greet('ada');
    const second = await appController.greet('ada');
    expect(second).toEqual(first);
    expect(module.get(AppService).runs).toBe(1);
  });
});
