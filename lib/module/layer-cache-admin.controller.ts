/**
 * The admin routes of one registration: a controller class generated per `forRoot({ admin })`, with
 * `@Controller(path)` and `@UseGuards(guard)` applied to it — `GET <path>` (the page) and `GET <path>/stats` (JSON).
 * Hard part: the class is created per registration so each named stack mounts its own path and guard; both
 * handlers carry `@SkipCache()` so an app-wide `LayerCacheInterceptor` never caches the stats.
 */
import { Controller, Get, Header, Inject, UseGuards, type Type } from '@nestjs/common';
import { SkipCache } from '../http/http-cache.decorator.js';
import type { ResolvedAdminOptions } from './layer-cache-admin.options.js';
import { ADMIN_PAGE_HEADERS, ADMIN_STATS_HEADERS, renderAdminPage } from './layer-cache-admin.page.js';
import type { AdminStatsSampler, LayerCacheAdminStats } from './layer-cache-admin.stats.js';

/** The registration-local token of its {@link AdminStatsSampler}. */
export const LAYER_CACHE_ADMIN_SAMPLER = Symbol('nestjs-layercache:admin-sampler');

/** Creates the admin controller of one registration. */
export function createAdminController(options: ResolvedAdminOptions): Type {
  const page = renderAdminPage(options.intervalMs);

  class LayerCacheAdminController {
    constructor(@Inject(LAYER_CACHE_ADMIN_SAMPLER) private readonly sampler: AdminStatsSampler) {}

    /** The dashboard. */
    page(): string {
      return page;
    }

    /** The JSON stats. */
    stats(): LayerCacheAdminStats {
      return this.sampler.stats();
    }
  }

  const proto = LayerCacheAdminController.prototype;
  decorate(proto, 'page', [Get(), SkipCache(), ...headers(ADMIN_PAGE_HEADERS)]);
  decorate(proto, 'stats', [Get('stats'), SkipCache(), ...headers(ADMIN_STATS_HEADERS)]);
  UseGuards(options.guard)(LayerCacheAdminController);
  Controller(options.path)(LayerCacheAdminController);
  return LayerCacheAdminController;
}

function headers(values: Readonly<Record<string, string>>): MethodDecorator[] {
  return Object.entries(values).map(([name, value]) => Header(name, value));
}

function decorate(proto: object, method: string, decorators: readonly MethodDecorator[]): void {
  const descriptor = Object.getOwnPropertyDescriptor(proto, method);
  if (descriptor === undefined) throw new Error(`no method ${method}`);
  for (const decorator of decorators) decorator(proto, method, descriptor);
}
