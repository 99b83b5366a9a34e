import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Cacheable, CacheStack, InvalidOptionError } from '../../lib/index.js';
import { memoryStack, recordWarnings } from '../support/decorator-app.js';

@Injectable()
class UsersService {
  calls = 0;

  @Cacheable({ key: 'user:{0}' })
  async findOne(id: number): Promise<{ id: number; calls: number }> {
    this.calls++;
    return { id, calls: this.calls };
  }
}

describe('@Cacheable outside Nest and misuse', () => {
  it('calls the method uncached and warns once per class and method when the instance has no stack', async () => {
    const warnings = recordWarnings();
    const users = new UsersService();
    await users.findOne(1);
    await users.findOne(1);
    expect(users.calls).toBe(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/@Cacheable on UsersService\.findOne: the instance of UsersService has no cache stack/);
  });

  it('rejects bad options when the class is defined, naming the option, the decorator and the method', () => {
    const define = () => {
      class Bad {
        @Cacheable({ ttl: '5 minutes' as unknown as number })
        async find(): Promise<number> {
          return 1;
        }
      }
      return Bad;
    };
    expect(define).toThrow(InvalidOptionError);
    expect(define).toThrow(/Invalid option "ttl": @Cacheable on Bad\.find: expected seconds/);
  });

  it('rejects static methods', () => {
    expect(() => {
      class Bad {
        @Cacheable()
        static async find(): Promise<number> {
          return 1;
        }
      }
      return Bad;
    }).toThrow(/@Cacheable.*cannot decorate the static method Bad\.find/);
  });

  it('does not share a stack between instances: each instance reads its own hidden property', async () => {
    recordWarnings();
    const a = memoryStack();
    const users = new UsersService();
    (users as unknown as Record<symbol, CacheStack>)[Symbol.for('nestjs-layercache:stack:default')] = a;
    await users.findOne(1);
    await users.findOne(1);
    expect(users.calls).toBe(1);
    expect(a.peek('user:1')).toEqual({ id: 1, calls: 1 });
    const other = new UsersService();
    await other.findOne(1);
    await other.findOne(1);
    expect(other.calls).toBe(2); // uncached: no stack on this instance
  });

  it('says what is wrong when applied as a TC39 standard decorator (no experimentalDecorators)', () => {
    const decorator = Cacheable() as unknown as (value: unknown, context: unknown) => void;
    expect(() => decorator(async () => 1, { kind: 'method', name: 'find', static: false })).toThrow(
      /@Cacheable.*TC39 standard decorator.*experimentalDecorators/,
    );
  });
});
