/**
 * Whether a stack is open, and the background work it waits for (refreshes, backfills, replays, bus
 * publishes): the one piece of lifecycle state its parts share. `StackCore` owns it and hands it to each part
 * that starts background work or must reject once closed; only `StackCore.close()` closes it.
 *
 * Hard part: `idle()` waits until no work is pending, including work started by work it waited for (a
 * refresh that backfills), so it loops until the set stays empty.
 */
import { StackClosedError } from '../core/errors.js';

export class StackLifecycle {
  private isClosed = false;
  private readonly background = new Set<Promise<unknown>>();

  /** Set by `close()`: every public operation rejects from then on. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Every public operation of a closed stack rejects. */
  assertOpen(): void {
    if (this.isClosed) throw new StackClosedError();
  }

  /** Marks the stack closed; false when it already was. */
  close(): boolean {
    if (this.isClosed) return false;
    this.isClosed = true;
    return true;
  }

  /** Keeps `work` until it settles, for `idle()`. */
  track(work: Promise<unknown>): void {
    this.background.add(work);
    void work.then(() => this.background.delete(work));
  }

  /** Resolves once no background work is pending. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.all([...this.background]);
  }
}
