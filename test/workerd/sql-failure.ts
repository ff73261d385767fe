/** Making a room's storage fail on purpose, for the tests of what a failed change leaves behind. */
import { runInDurableObject } from "cloudflare:test";
import { roomStub } from "./peer";

/**
 * Makes the room's next SQL statement that starts with `prefix` throw, once:
 * the store failing halfway through a change.
 */
export async function failNext(room: string, prefix: string): Promise<void> {
  await runInDurableObject(roomStub(room), (_, state) => {
    const proto: SqlStorage = Object.getPrototypeOf(state.storage.sql);
    const exec = proto.exec;
    proto.exec = function (this: SqlStorage, query: string, ...bindings: SqlStorageValue[]) {
      if (query.trimStart().startsWith(prefix)) {
        proto.exec = exec;
        throw new Error("disk on fire");
      }
      return exec.call(this, query, ...bindings);
    } as SqlStorage["exec"];
  });
}
