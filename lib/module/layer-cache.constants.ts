/**
 * Internal DI tokens of one `LayerCacheModule` registration. Each registration is its own module instance
 * and exports only its stack, so these tokens never clash between registrations or apps.
 */

/** The options of the registration (the `ConfigurableModuleBuilder` options token). */
export const LAYER_CACHE_MODULE_OPTIONS = Symbol('nestjs-layercache:module-options');

/** The registration's `StackResources`: the stack and the Redis connections the module opened. */
export const LAYER_CACHE_STACK_RESOURCES = Symbol('nestjs-layercache:stack-resources');
