/**
 * An EventTarget whose events are typed by a map of `detail` types, so a
 * listener gets `event.detail` typed without a cast. Every event it
 * dispatches is a CustomEvent named in the map.
 */
export class TypedEventTarget<Events> extends EventTarget {
  override addEventListener<K extends keyof Events & string>(
    type: K,
    listener: ((event: CustomEvent<Events[K]>) => void) | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | ((event: CustomEvent<never>) => void) | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    // Sound: this class only ever dispatches the CustomEvents its map names.
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  protected emit<K extends keyof Events & string>(type: K, detail: Events[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
