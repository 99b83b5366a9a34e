/**
 * The mark of a pass-through stack: the stack a `LayerCacheModule.forRoot({ enabled: false })` registration
 * provides (docs/testing.md). Decorated methods and `@HttpCache` routes bypass a marked stack entirely (the method
 * or handler runs on every call); a `Symbol.for` key, so copies of the library in one process agree on it.
 */

const PASS_THROUGH = Symbol.for('nestjs-layercache:pass-through-stack');

/** Marks `stack` as a pass-through stack (done once, by the module, on the stack it builds). */
export function markPassThroughStack(stack: object): void {
  Object.defineProperty(stack, PASS_THROUGH, { value: true, enumerable: false });
}

/** Whether `stack` is the pass-through stack of a disabled registration (`enabled: false`). */
export function isPassThroughStack(stack: object): boolean {
  return (stack as Record<symbol, unknown>)[PASS_THROUGH] === true;
}
