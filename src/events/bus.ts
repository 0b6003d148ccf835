import type { OrchestratorEventName, OrchestratorEvents } from './event-types.js';

export type EventListener<K extends OrchestratorEventName> = (payload: OrchestratorEvents[K]) => void;
export type AnyEventListener = <K extends OrchestratorEventName>(name: K, payload: OrchestratorEvents[K]) => void;

/**
 * A synchronous, typed publish/subscribe bus. Listeners run in subscription order; one that throws is reported
 * through `onListenerError` and does not stop the others (a broken dashboard client must not break recording).
 */
export class EventBus {
  readonly #listeners = new Map<OrchestratorEventName, Set<EventListener<never>>>();
  readonly #anyListeners = new Set<AnyEventListener>();

  constructor(private readonly onListenerError: (error: unknown) => void = () => {}) {}

  on<K extends OrchestratorEventName>(name: K, listener: EventListener<K>): () => void {
    let set = this.#listeners.get(name);
    if (!set) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    const stored: EventListener<never> = listener;
    set.add(stored);
    return () => set.delete(stored);
  }

  onAny(listener: AnyEventListener): () => void {
    this.#anyListeners.add(listener);
    return () => this.#anyListeners.delete(listener);
  }

  emit<K extends OrchestratorEventName>(name: K, payload: OrchestratorEvents[K]): void {
    const set = this.#listeners.get(name);
    if (set) {
      for (const listener of set) {
        try {
          (listener as EventListener<K>)(payload);
        } catch (error) {
          this.onListenerError(error);
        }
      }
    }
    for (const listener of this.#anyListeners) {
      try {
        listener(name, payload);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}
