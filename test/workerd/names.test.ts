/**
 * Display names: invisible characters that make a name read as something it
 * is not are refused with `bad-name`; names in any script, emoji included, pass.
 */
import { describe, expect, it } from "vitest";
import { parseDisplayName } from "../../src/inbound";
import { CloseCode } from "../../src/protocol";
import { Peer } from "./peer";

let rooms = 0;
const freshRoom = () => `names-${Date.now().toString(36)}-${rooms++}`;

describe("display names", () => {
  it.each([
    ["a right-to-left override", "Ann\u202Egnp.exe"],
    ["a left-to-right embedding", "\u202AAnn"],
    ["a first-strong isolate", "Ann\u2068Bob\u2069"],
    ["a right-to-left mark", "Ann\u200F"],
    ["a zero-width space", "An\u200Bn"],
    ["a zero-width non-joiner", "An\u200Cn"],
    ["a zero-width joiner between letters", "An\u200Dn"],
    ["a joiner after an emoji with nothing to join", "Ann 👩\u200D"],
    ["a word joiner", "An\u2060n"],
    ["a byte order mark", "An\uFEFFn"],
    ["a soft hyphen", "An\u00ADn"],
    ["tag characters", "Ann\u{E0041}\u{E0042}"],
    ["a line separator", "Ann\u2028Bob"],
    ["a paragraph separator", "Ann\u2029Bob"],
  ])("refuses %s", (_, name) => {
    const result = parseDisplayName(name);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(/format characters/);
  });

  it.each([
    ["Arabic", "محمد علي"],
    ["Hebrew", "שרה כהן"],
    ["Chinese", "李小龍"],
    ["Japanese", "さくら"],
    ["Korean", "김민준"],
    ["Devanagari", "प्रिया"],
    ["Latin with diacritics", "Zoë Ångström"],
    ["emoji", "Ann 😀"],
    ["an emoji ZWJ sequence", "👩‍💻 Ann"],
    ["a ZWJ sequence with a skin tone", "👨🏽‍💻"],
    ["a ZWJ sequence with a presentation selector", "🏳️‍🌈"],
    ["a ZWJ sequence of three", "🧑‍🤝‍🧑"],
  ])("keeps a name in %s", (_, name) => {
    expect(parseDisplayName(name)).toEqual({ ok: true, name });
  });

  it("trims separators at either end like any white space", () => {
    expect(parseDisplayName("\u2028Ann\u2029")).toEqual({ ok: true, name: "Ann" });
  });

  it("refuses the join with bad-name and close 4003", async () => {
    const peer = await Peer.open(freshRoom(), { name: "Ann\u202Egnp.exe" });
    const error = await peer.next("error");
    expect(error.code).toBe("bad-name");
    expect(error.message).toMatch(/format characters/);
    await peer.expectClose(CloseCode.badName);
  });

  it("lets an emoji name join and shows it to the others", async () => {
    const room = freshRoom();
    const ann = await Peer.join(room, { name: "👩‍💻 Ann" });
    const bob = await Peer.join(room, { name: "Bob" });
    expect(bob.welcome.peers).toEqual([{ id: ann.welcome.id, name: "👩‍💻 Ann" }]);
    ann.close();
    bob.close();
  });
});
