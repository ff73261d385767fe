/**
 * joinRoom's arguments are checked before anything is sent: a room name the
 * server would refuse with HTTP 400 (which a WebSocket cannot see, so the
 * library would retry for ever) and a malformed key both throw at once.
 */
import { describe, expect, it } from "vitest";
import { joinRoom } from "../../src/client/mesh";

describe("joinRoom", () => {
  it("refuses a room name the server would refuse, before opening anything", () => {
    for (const room of ["", "a+b", "a b", "x".repeat(65), "ünïcode"]) {
      expect(() => joinRoom(room), room).toThrow(TypeError);
    }
  });

  it("refuses a malformed key before opening anything", () => {
    expect(() => joinRoom("abc", { key: "not a key" })).toThrow(TypeError);
  });
});
