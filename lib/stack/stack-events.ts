/**
 * The events of one stack. `listened` is read on hot paths: when nobody listens to an event, emitting it
 * costs one property read and builds no payload. A throwing listener is logged and ignored.
 */
import { EventEmitter } from 'node:events';
import type { CacheEventListener, CacheEventMap, CacheEventName } from '../core/events.js';
import type { BurstLogger } from '../core/logger.js';

export class StackEvents {
  /** Events with at least one listener. */
  readonly listened: Partial<Record<CacheEventName, boolean>> = {};
  private readonly emitter = new EventEmitter();

  constructor(private readonly log: BurstLogger) {}

  on<E extends CacheEventName>(event: E, listener: CacheEventListener<E>): void {
    this.emitter.on(event, listener);
    this.listened[event] = true;
  }

  off<E extends CacheEventName>(event: E, listener: CacheEventListener<E>): void {
    this.emitter.off(event, listener);
    this.listened[event] = this.emitter.listenerCount(event) > 0;
  }

  /** Emits `event` when somebody listens; check `listened` first where building the payload costs. */
  emit<E extends CacheEventName>(event: E, payload: CacheEventMap[E]): void {
    if (this.listened[event] !== true) return;
    try {
      this.emitter.emit(event, payload);
    } catch (error) {
      this.log.warn(`A listener of the "${event}" event threw`, error);
    }
  }

  removeAll(): void {
    this.emitter.removeAllListeners();
    for (const event of Object.keys(this.listened) as CacheEventName[]) this.listened[event] = false;
  }
}
