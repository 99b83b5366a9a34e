// Headers declared in `vary` are normalised before keying (Accept-*, X-Forwarded-*, Forwarded): spellings that
// mean the same share an entry, values that differ in meaning (order of equal preferences, proxies' order) do
// not; a header the handler reads itself with `@Headers(name)` is keyed as received.
import 'reflect-metadata';
import { Controller, Get, Headers, Inject, Injectable, UseInterceptors } from '@nestjs/common';
import request from 'supertest';
import { HttpCache, LayerCacheInterceptor } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { startHttpApp } from '../support/http-app.js';
import { ADAPTERS } from '../support/nest-app.js';

@Injectable()
class Runs {
  count = 0;
}

const DECLARED = ['Accept', 'Accept-Charset', 'Accept-Encoding', 'Accept-Language', 'X-Forwarded-Host', 'X-Forwarded-Proto', 'X-Forwarded-For', 'Forwarded', 'X-Tenant'];

@UseInterceptors(LayerCacheInterceptor)
@Controller('v')
class VaryController {
  constructor(@Inject(Runs) private readonly runs: Runs) {}

  @Get('declared')
  @HttpCache({ ttl: 30, vary: DECLARED })
  declared() {
    return { run: ++this.runs.count };
  }

  @Get('read')
  @HttpCache({ ttl: 30, vary: ['Accept-Language'] })
  read(@Headers('accept-language') language: string) {
    return { language, run: ++this.runs.count };
  }
}

/** [header, first value, second value, whether the second shares the first's entry]. */
const CASES: [string, string, string, boolean][] = [
  ['Accept-Language', 'de, en;q=0.8', 'DE ,  en ; Q=0.80', true],
  ['Accept-Language', 'en;q=0.8, de', 'de,en;q=0.8', true],
  ['Accept-Language', 'de;q=1.0, en;q=0.5', 'de, en;q=.5x', false], // an invalid qvalue is kept as a parameter
  ['Accept-Language', 'de, en', 'en, de', false], // equal q: the order is the client's preference
  ['Accept-Language', 'de, fr;q=0', 'de', false], // q=0 means "not acceptable"
  ['Accept', 'text/html, application/json;q=0.9', 'application/json; q=0.9 ,TEXT/HTML', true],
  ['Accept', 'text/plain;format=Flowed', 'text/plain;format=flowed', false], // parameter values may be case-sensitive
  ['Accept', 'text/plain;a="x,y"', 'text/plain;a="x,y" , ', true], // commas inside quotes are no separators
  ['Accept-Encoding', 'gzip, br;q=0.5', 'br;q=0.5, GZIP', true],
  ['Accept-Charset', 'utf-8, iso-8859-1;q=0.5', 'UTF-8,ISO-8859-1;q=0.50', true],
  ['X-Forwarded-Proto', 'HTTPS', 'https', true],
  ['X-Forwarded-Host', 'A.example.test, proxy.test', 'a.example.test,PROXY.test', true],
  ['X-Forwarded-Host', 'a.example.test, b.example.test', 'b.example.test, a.example.test', false],
  ['X-Forwarded-For', '203.0.113.7, 10.0.0.1', '203.0.113.7,10.0.0.1', true],
  ['X-Forwarded-For', '203.0.113.7, 10.0.0.1', '10.0.0.1, 203.0.113.7', false],
  ['Forwarded', 'for=192.0.2.60;proto=http;host=A.test', 'Host="a.test"; For="192.0.2.60";PROTO=HTTP', true],
  ['Forwarded', 'for=192.0.2.60, for=198.51.100.17', 'for=198.51.100.17, for=192.0.2.60', false],
  ['Forwarded', 'for=_hidden', 'for=_HIDDEN', false], // obfuscated identifiers keep their case
  ['X-Tenant', 'Alice', 'alice', false], // other headers: as received
];

describe.each(ADAPTERS)('Declared vary headers are normalised (%s)', (adapter) => {
  async function start() {
    const started = await startHttpApp(adapter, { controllers: [VaryController], providers: [Runs], clock: new FakeClock() });
    return { ...started, runs: started.app.get(Runs) };
  }

  it.each(CASES)('%s: %j then %j shares the entry: %s', async (header, first, second, shared) => {
    const { url } = await start();
    const answers = [await request(url).get('/v/declared').set(header, first), await request(url).get('/v/declared').set(header, second)];
    expect(answers.map((a) => a.headers['x-cache'])).toEqual(['MISS', shared ? 'HIT' : 'MISS']);
    expect(answers[1]?.headers.vary).toBe(DECLARED.map((name) => name.toLowerCase()).join(', '));
  });

  it('keys a declared header the handler reads itself as received', async () => {
    const { url } = await start();
    const answers = [await request(url).get('/v/read').set('Accept-Language', 'de, en'), await request(url).get('/v/read').set('Accept-Language', 'DE,EN')];
    expect(answers.map((a) => [a.headers['x-cache'], a.body.language])).toEqual([
      ['MISS', 'de, en'],
      ['MISS', 'DE,EN'],
    ]);
  });
});
