import 'reflect-metadata';
import {
  Controller,
  Get,
  Inject,
  Injectable,
  Param,
  Scope,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import { Observable, of } from 'rxjs';
import request from 'supertest';
import { Cacheable, CACHE_MISS } from '../../lib/index.js';
import { initApp, memoryStack } from '../support/decorator-app.js';
import { ADAPTERS } from '../support/nest-app.js';

/** Counts what ran: guards, handler bodies, request-scoped constructions, database loads. */
@Injectable()
class Counters {
  guard = 0;
  handler = 0;
  constructed = 0;
  loads = 0;
}

@Injectable()
class CountingGuard implements CanActivate {
  constructor(@Inject(Counters) private readonly counters: Counters) {}
  canActivate(context: ExecutionContext): boolean {
    this.counters.guard++;
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    return req.headers['x-deny'] === undefined;
  }
}

@Controller('items')
class ItemsController {
  constructor(@Inject(Counters) private readonly counters: Counters) {}

  // Nest decorators below @Cacheable: their metadata is on the original, copied onto the wrapper.
  @Cacheable({ key: 'item:{0}' })
  @Get(':id')
  @UseGuards(CountingGuard)
  async get(@Param('id') id: string): Promise<{ id: string; handler: number }> {
    this.counters.handler++;
    return { id, handler: this.counters.handler };
  }

  // Nest decorators above @Cacheable: their metadata lands on the wrapper itself.
  @Get('stream/:id')
  @UseGuards(CountingGuard)
  @Cacheable({ key: 'stream:{0}' })
  stream(@Param('id') id: string): Observable<{ id: string; handler: number }> {
    this.counters.handler++;
    return of({ id, handler: this.counters.handler });
  }

  @Get('sync/:id')
  @Cacheable({ key: 'sync:{0}' })
  sync(@Param('id') id: string): { id: string; handler: number } {
    this.counters.handler++;
    return { id, handler: this.counters.handler };
  }
}

/** A request-scoped provider with a cached method: a new instance per request, one cache for all. */
@Injectable({ scope: Scope.REQUEST })
class RequestUsers {
  constructor(
    @Inject(REQUEST) private readonly req: { headers: Record<string, string | undefined> },
    @Inject(Counters) private readonly counters: Counters,
  ) {
    counters.constructed++;
  }

  @Cacheable({ key: 'request-user:{0}' })
  async find(id: string): Promise<{ id: string; load: number; requestedBy: string | undefined }> {
    this.counters.loads++;
    return { id, load: this.counters.loads, requestedBy: this.req.headers['x-user'] };
  }
}

@Controller('users')
class UsersController {
  constructor(@Inject(RequestUsers) private readonly users: RequestUsers) {}

  @Get(':id')
  get(@Param('id') id: string): Promise<unknown> {
    return this.users.find(id);
  }
}

describe.each(ADAPTERS)('@Cacheable on controllers and request-scoped providers (%s)', (adapter) => {
  async function setup() {
    const stack = memoryStack();
    const app = await initApp({ controllers: [ItemsController, UsersController], providers: [Counters, CountingGuard, RequestUsers] }, { stack }, adapter);
    return { stack, app, server: app.getHttpServer(), counters: app.get(Counters) };
  }

  it('a handler hit skips the handler body but not the guard; a denied request stays denied', async () => {
    const { stack, server, counters } = await setup();
    const first = await request(server).get('/items/1').expect(200);
    const second = await request(server).get('/items/1').expect(200);
    expect(second.body).toEqual(first.body);
    expect(first.body).toEqual({ id: '1', handler: 1 });
    expect(counters.handler).toBe(1);
    expect(counters.guard).toBe(2);
    expect(stack.peek('item:1')).toEqual({ id: '1', handler: 1 });

    await request(server).get('/items/1').set('x-deny', '1').expect(403);
    expect(counters.guard).toBe(3);
    expect(counters.handler).toBe(1);
  });

  it('an Observable handler (decorators above @Cacheable) is routed, guarded and cached', async () => {
    const { stack, server, counters } = await setup();
    await request(server).get('/items/stream/2').expect(200, { id: '2', handler: 1 });
    await request(server).get('/items/stream/2').expect(200, { id: '2', handler: 1 });
    expect(counters.handler).toBe(1);
    expect(counters.guard).toBe(2);
    expect(stack.peek('stream:2')).toEqual({ id: '2', handler: 1 });
    await request(server).get('/items/stream/2').set('x-deny', '1').expect(403);
  });

  it('a synchronous handler stays synchronous and is cached', async () => {
    const { server, counters } = await setup();
    await request(server).get('/items/sync/3').expect(200, { id: '3', handler: 1 });
    await request(server).get('/items/sync/3').expect(200, { id: '3', handler: 1 });
    expect(counters.handler).toBe(1);
  });

  it('a request-scoped provider gets the stack on every instance: one load for many requests', async () => {
    const { stack, server, counters } = await setup();
    const first = await request(server).get('/users/9').set('x-user', 'alice').expect(200);
    const second = await request(server).get('/users/9').set('x-user', 'bob').expect(200);
    expect(counters.constructed).toBe(2);
    expect(counters.loads).toBe(1);
    expect(second.body).toEqual(first.body);
    expect(first.body).toEqual({ id: '9', load: 1, requestedBy: 'alice' });
    expect(stack.peek('request-user:9')).not.toBe(CACHE_MISS);
  });
});
