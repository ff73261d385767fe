/**
 * How a sender and a receiver agree on the check of each block: MurmurHash3
 * where the sender offers it and the receiver takes it up, SHA-256 with a
 * page from before it, either way round.
 */
import { describe, expect, it } from "vitest";
import { digestOf, MiB, pair, randomFile, saidBy } from "./file-pair";

describe("the check of a file's blocks", () => {
  it("is MurmurHash3 where the sender offers it and the receiver takes it up", async () => {
    const bytes = randomFile(2 * MiB + 5);
    const { sender, receiver, transfer, arrived } = pair(bytes);
    await transfer.done;
    expect(new Uint8Array(await (await arrived).arrayBuffer())).toEqual(bytes);
    expect(saidBy(sender, "file-header")[0]).toMatchObject({ acks: true, check: "murmur3" });
    expect(saidBy(receiver, "file-ack")[0]).toEqual({ type: "file-ack", blocks: 0, check: "murmur3" });
    expect(saidBy(sender, "file-end")).toEqual([{ type: "file-end", sha256: await digestOf(bytes, "murmur3") }]);
  });

  it("is SHA-256 with a receiver from before it, which knows no offer", async () => {
    const bytes = randomFile(2 * MiB + 5);
    const { sender, receiver, transfer, arrived } = pair(bytes, ({ sender }) => {
      // The header as such a receiver reads it: its schema drops the field it does not know.
      sender.rewrite = (text) => JSON.stringify({ ...JSON.parse(text), check: undefined });
    });
    await transfer.done;
    expect(new Uint8Array(await (await arrived).arrayBuffer())).toEqual(bytes);
    expect(saidBy(receiver, "file-ack")[0]).toEqual({ type: "file-ack", blocks: 0 });
    expect(saidBy(sender, "file-end")).toEqual([{ type: "file-end", sha256: await digestOf(bytes, "sha256") }]);
  });

  it("is waited for before the end of a file sent whole before the receiver's first word", async () => {
    const bytes = randomFile(MiB / 2);
    const { sender, receiver, transfer, incoming, arrived } = pair(bytes, ({ receiver }) => receiver.hold());
    // The receiver has every byte, and its first ack is held back: the sender cannot know the check yet.
    const receiving = await incoming;
    if (receiving.loaded < bytes.length) {
      await new Promise<void>((resolve) =>
        receiving.addEventListener("progress", ({ detail }) => detail.loaded === detail.total && resolve()),
      );
    }
    expect(saidBy(receiver, "file-ack")).toEqual([{ type: "file-ack", blocks: 0, check: "murmur3" }]);
    expect(saidBy(sender, "file-end")).toEqual([]);
    receiver.release();
    await transfer.done;
    expect(new Uint8Array(await (await arrived).arrayBuffer())).toEqual(bytes);
    expect(saidBy(sender, "file-end")).toEqual([{ type: "file-end", sha256: await digestOf(bytes, "murmur3") }]);
  });
});
