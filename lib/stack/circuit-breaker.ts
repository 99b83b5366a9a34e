/**
 * The loader circuits of one stack (`circuitBreaker`), by circuit id, in this process. A circuit counts loader
 * RUNS — one per flight, after single-flight collapsed the callers — never callers:
 *
 *   closed ──(failureThreshold failures within window)──▶ open ──(cooldown over, next load)──▶ half-open
 *     ▲                                                    ▲                                      │
 *     └──────────────────(the probe succeeds)──────────────┼──────────────────────────────────────┤
 *                                                          └─────────(the probe fails)────────────┘
 *
 * - Closed: every load runs; failures are remembered with their times and forgotten once older than `window`
 *   (a success does not erase them: the threshold is failures within the window, whatever succeeded between).
 * - Open: `check` and `admit` throw `CircuitOpenError` with the time left; the caller serves a stale value when
 *   it has one (read-path.ts) and a background refresh is not started.
 * - Half-open: the first load admitted after the cooldown is the one probe; other loads of the circuit fail fast
 *   until it settles (loads of the probe's own key join its flight: they share its outcome).
 * - A load admitted while closed that settles after the circuit opened is ignored (only the probe decides).
 * Circuits are per process: a peer's failures are not seen here (docs/protection.md says why). Settings are
 * those of the load that records an outcome: loads with different `circuitBreaker` settings in one scope share
 * one circuit. Memory: a closed circuit exists only while it holds failures within its window; past
 * `MAX_CIRCUITS` circuits, a new one first sweeps closed ones without recent failures and open ones left
 * unprobed for a window after their cooldown (those close).
 *
 * Why not cockatiel (or opossum): their breakers read `Date.now()` and Node timers themselves, so the state
 * transitions could not be tested on the injected clock, and they count calls, not single-flight runs.
 */
import type { Clock } from '../core/clock.js';
import { CircuitOpenError } from '../core/errors.js';
import type { StackMetrics } from '../core/metrics.js';
import type { BreakerPolicy } from './loader-protection.options.js';
import type { StackEvents } from './stack-events.js';

/** The circuit a load belongs to: `id` for identity, `label` for errors and events. */
export interface CircuitRef {
  readonly id: string;
  readonly label: string;
}

/** The right to run a loader, handed back with its outcome. */
export interface CircuitPermit {
  readonly ref: CircuitRef;
  readonly policy: BreakerPolicy;
  /** This run is the half-open probe. */
  readonly probe: boolean;
}

const State = { Closed: 0, Open: 1, HalfOpen: 2 } as const;
type State = (typeof State)[keyof typeof State];

interface Circuit {
  readonly label: string;
  state: State;
  /** Times of the failures within the window (closed only). */
  failures: number[];
  /** When the cooldown ends (open only). */
  openUntil: number;
  /** The window of the last failure recorded, for the sweep. */
  window: number;
}

/** Circuits kept before a new one sweeps the idle ones. */
const MAX_CIRCUITS = 10_000;

export class CircuitBreakers {
  private readonly circuits = new Map<string, Circuit>();

  constructor(
    private readonly clock: Clock,
    private readonly metrics: StackMetrics,
    private readonly events: StackEvents,
  ) {}

  /** Throws `CircuitOpenError` when a load of `ref` would be refused now; reserves nothing. */
  check(ref: CircuitRef): void {
    const circuit = this.circuits.get(ref.id);
    if (circuit === undefined || circuit.state === State.Closed) return;
    const now = this.clock.now();
    if (circuit.state === State.HalfOpen) throw this.reject(ref, 0);
    if (now < circuit.openUntil) throw this.reject(ref, circuit.openUntil - now);
  }

  /** The right to run a loader of `ref` now (the probe once the cooldown is over); throws `CircuitOpenError`. */
  admit(ref: CircuitRef, policy: BreakerPolicy): CircuitPermit {
    this.check(ref);
    const circuit = this.circuits.get(ref.id);
    if (circuit === undefined || circuit.state === State.Closed) return { ref, policy, probe: false };
    circuit.state = State.HalfOpen;
    return { ref, policy, probe: true };
  }

  /** Records how an admitted run ended (`failed`: the loader threw or timed out). */
  record(permit: CircuitPermit, failed: boolean): void {
    const { ref, policy } = permit;
    const now = this.clock.now();
    let circuit = this.circuits.get(ref.id);
    if (permit.probe) {
      if (circuit === undefined || circuit.state !== State.HalfOpen) return;
      if (failed) this.open(ref, circuit, policy, now, 1, true);
      else {
        this.circuits.delete(ref.id);
        this.metrics.openCircuits--;
        this.events.emit('circuit-close', { circuit: ref.label });
      }
      return;
    }
    if (circuit !== undefined && circuit.state !== State.Closed) return; // admitted before it opened
    if (!failed) {
      if (circuit !== undefined && prune(circuit, now) === 0) this.circuits.delete(ref.id);
      return;
    }
    if (circuit === undefined) {
      if (this.circuits.size >= MAX_CIRCUITS) this.sweep(now);
      circuit = { label: ref.label, state: State.Closed, failures: [], openUntil: 0, window: policy.window };
      this.circuits.set(ref.id, circuit);
    }
    circuit.window = policy.window;
    circuit.failures.push(now);
    const failures = prune(circuit, now);
    if (failures >= policy.failureThreshold) {
      this.metrics.openCircuits++;
      this.open(ref, circuit, policy, now, failures, false);
    }
  }

  private open(ref: CircuitRef, circuit: Circuit, policy: BreakerPolicy, now: number, failures: number, probe: boolean): void {
    circuit.state = State.Open;
    circuit.failures = [];
    circuit.openUntil = now + policy.cooldown;
    this.metrics.circuitOpens++;
    this.events.emit('circuit-open', { circuit: ref.label, failures, probe, until: circuit.openUntil });
  }

  private reject(ref: CircuitRef, retryAfter: number): CircuitOpenError {
    this.metrics.circuitRejections++;
    return new CircuitOpenError(ref.label, retryAfter);
  }

  /**
   * Forgets closed circuits whose failures all left their window, and open ones nobody probed for a window after
   * their cooldown ended (a key of a `'key'` circuit never read again): those close (`circuit-close`).
   */
  private sweep(now: number): void {
    for (const [id, circuit] of this.circuits) {
      if (circuit.state === State.Closed) {
        if (prune(circuit, now) === 0) this.circuits.delete(id);
      } else if (circuit.state === State.Open && circuit.openUntil + circuit.window <= now) {
        this.circuits.delete(id);
        this.metrics.openCircuits--;
        this.events.emit('circuit-close', { circuit: circuit.label });
      }
    }
  }
}

/** Drops the failures older than the circuit's window; returns how many are left. */
function prune(circuit: Circuit, now: number): number {
  const failures = circuit.failures;
  let drop = 0;
  while (drop < failures.length && (failures[drop] as number) <= now - circuit.window) drop++;
  if (drop > 0) failures.splice(0, drop);
  return failures.length;
}
