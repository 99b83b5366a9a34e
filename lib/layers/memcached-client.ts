/**
 * The Memcached commands `MemcachedLayer` needs, as promises, on a memjs client (memjs is an optional peer, loaded
 * here the first time a layer opens its own client). memjs speaks the binary protocol but its `get` drops the CAS
 * token and its `set` cannot send one; "write if newer" and `touch` need both, so those two commands are built with
 * memjs's own exported request builder (`Utils.makeRequestBuffer`) and sent through its `perform`, as its own
 * commands are. Hard part: every reply status other than success / not found / exists / too large is a failure
 * of the layer (a rejection), so the stack's guard degrades it; "too large" is a property of one value, not of
 * the servers, and is answered as such.
 */
import type { Client, ClientOptions, ServerOptions } from 'memjs';
import { InvalidOptionError } from '../core/errors.js';
import { requireOptionalPeer } from '../core/optional-peer.js';

/** The memjs client type (`memjs.Client`). */
export type MemcachedClient = Client;

/** Binary-protocol opcodes and statuses used here (memcached's protocol_binary.txt). */
const OP_GET = 0x00;
const OP_SET = 0x01;
const OP_ADD = 0x02;
const OP_DELETE = 0x04;
const OP_VERSION = 0x0b;
const STATUS_OK = 0x00;
const STATUS_NOT_FOUND = 0x01;
const STATUS_EXISTS = 0x02;
const STATUS_TOO_LARGE = 0x03;
const STATUS_NOT_STORED = 0x05;

/** A value as held by Memcached, with its CAS token. */
export interface HeldValue {
  readonly value: Buffer;
  readonly cas: Buffer;
}

/** What a conditional or plain store answered. */
export type StoreResult = 'stored' | 'exists' | 'not-found' | 'too-large';

/** Opens a memjs client on `servers` (`host:port` or `user:pass@host:port` each), loading memjs on first use. */
export function openMemcachedClient(servers: readonly string[], options: ClientOptions & ServerOptions): MemcachedClient {
  let memjs: typeof import('memjs');
  try {
    memjs = requireOptionalPeer<typeof import('memjs')>('memjs');
  } catch (error) {
    throw new InvalidOptionError('MemcachedLayer.servers', `MemcachedLayer needs the memjs package (an optional peer): npm install memjs (${(error as Error).message})`);
  }
  return memjs.Client.create(servers.join(','), options);
}

/** Whether `value` looks like a memjs client (what `MemcachedLayer({ client })` accepts). */
export function isMemcachedClient(value: unknown): value is MemcachedClient {
  const client = value as Partial<MemcachedClient> | null;
  return typeof client === 'object' && client !== null && typeof client.perform === 'function' && typeof client.incrSeq === 'function' && Array.isArray(client.servers);
}

/** The promise commands of one client. */
export class MemcachedCommands {
  private utils: typeof import('memjs').Utils | undefined;

  constructor(private readonly client: MemcachedClient) {}

  /** GET: the value and its CAS token, or `undefined`. */
  async get(key: string): Promise<HeldValue | undefined> {
    const response = await this.perform(key, OP_GET, '', '');
    if (response.header.status === STATUS_NOT_FOUND) return undefined;
    this.expect(response, 'GET', STATUS_OK);
    return { value: response.val, cas: response.header.cas };
  }

  /**
   * SET (`cas` given: only over that very version of the value, else `exists` / `not-found`) or ADD (`add`: only
   * where no value is). `expires` in Memcached's terms (seconds, or a Unix time beyond 30 days; 0 = never).
   */
  async store(key: string, value: Buffer, expires: number, mode: { cas?: Buffer; add?: boolean } = {}): Promise<StoreResult> {
    const extras = Buffer.alloc(8); // flags (0), then the expiration
    extras.writeUInt32BE(expires, 4);
    const opcode = mode.add === true ? OP_ADD : OP_SET;
    const response = await this.perform(key, opcode, extras, value, mode.cas);
    switch (response.header.status) {
      case STATUS_OK:
        return 'stored';
      case STATUS_EXISTS:
        return 'exists';
      case STATUS_NOT_FOUND:
        return 'not-found';
      case STATUS_NOT_STORED:
        // ADD over a present key answers "not stored" on some servers and "exists" on others.
        return 'exists';
      case STATUS_TOO_LARGE:
        return 'too-large';
      default:
        throw this.failure(response, mode.add === true ? 'ADD' : 'SET');
    }
  }

  /** DELETE; a missing key is not an error. */
  async delete(key: string): Promise<void> {
    const response = await this.perform(key, OP_DELETE, '', '');
    if (response.header.status !== STATUS_NOT_FOUND) this.expect(response, 'DELETE', STATUS_OK);
  }

  /** VERSION on every server: resolves once each answered (the stack's health check). */
  async ping(): Promise<void> {
    const servers = this.client.servers;
    if (servers.length === 0) throw new Error('Memcached: no servers');
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve, reject) => {
            this.client.incrSeq();
            const seq = this.client.seq;
            server.onResponse(seq, () => resolve());
            server.onError(seq, reject);
            server.write(this.request(OP_VERSION, '', '', '', seq));
          }),
      ),
    );
  }

  private perform(key: string, opcode: number, extras: Buffer | string, value: Buffer | string, cas?: Buffer): Promise<MemcachedResponse> {
    return new Promise((resolve, reject) => {
      this.client.incrSeq();
      const seq = this.client.seq;
      const request = this.request(opcode, key, extras, value, seq);
      if (cas !== undefined) cas.copy(request, 16); // the header's CAS field
      this.client.perform(key, request, seq, (error, response) => {
        if (error !== null && error !== undefined) reject(error);
        else if (response === null || response === undefined) reject(new Error('Memcached: no response'));
        else resolve(response as MemcachedResponse);
      });
    });
  }

  private request(opcode: number, key: string, extras: Buffer | string, value: Buffer | string, seq: number): Buffer {
    this.utils ??= requireOptionalPeer<typeof import('memjs')>('memjs').Utils;
    return this.utils.makeRequestBuffer(opcode, key, extras, value, seq);
  }

  private expect(response: MemcachedResponse, command: string, status: number): void {
    if (response.header.status !== status) throw this.failure(response, command);
  }

  private failure(response: MemcachedResponse, command: string): Error {
    return new Error(`Memcached ${command} failed with status 0x${response.header.status.toString(16).padStart(4, '0')}`);
  }
}

/** The part of a memjs response read here. */
interface MemcachedResponse {
  readonly header: { readonly status: number; readonly cas: Buffer };
  readonly val: Buffer;
}
