/**
 * An EventTarget whose events are typed by a map of `detail` types, so a
 * listener gets `event.detail` typed without a cast. Every event it
 * dispatches is a CustomEvent named in the map.
 *
 * The typed `addEventListener` is declared, not implemented: an override that
 * only forwarded would cost /mesh.js bytes for nothing.
 */
export interface TypedEventTarget<Events> {
  addEventListener<K extends keyof Events & string>(
    type: K,
    listener: ((event: CustomEvent<Events[K]>) => void) | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface above adds typed overloads only; sound because this class only ever dispatches the CustomEvents its map names.
export class TypedEventTarget<Events> extends EventTarget {
  protected emit<K extends keyof Events & string>(type: K, detail: Events[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
