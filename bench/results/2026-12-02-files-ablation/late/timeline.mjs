// Reads the per-transfer timelines that scratch-6.patch writes (/tmp/tl/<kind>-<round>.json: the sender's and
// the receiver's logs) and prints, per kind, medians over its transfers: from the first send to the last frame
// received; the frames' latency from send() to the receiver's onmessage; the receiver's pauses over 20 ms between
// frames, split into time before the frame ending a pause was even sent (the sender late) and after (the
// connection); and how many pauses end at the first frame of a 1 MiB block against other positions.
import { readdirSync, readFileSync } from "node:fs";

const dir = process.argv[2] ?? "/tmp/tl";
const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const kinds = {};
for (const file of readdirSync(dir).sort()) {
  if (!file.endsWith(".json") || !/-\d+\.json$/.test(file)) continue;
  const [sender, receiver] = JSON.parse(readFileSync(`${dir}/${file}`, "utf8"));
  const sends = sender.filter((e) => e[0] === "s" && typeof e[3] === "number");
  const frames = receiver.filter((e) => e[0] === "r");
  if (sends.length !== frames.length) continue;
  const perBlock = (1024 * 1024) / frames[0][2];
  let late = 0;
  let connection = 0;
  let atBoundary = 0;
  let elsewhere = 0;
  for (let i = 1; i < frames.length; i++) {
    const pause = frames[i][1] - frames[i - 1][1];
    if (pause <= 20) continue;
    const before = Math.max(0, Math.min(pause, sends[i][1] - frames[i - 1][1]));
    late += before;
    connection += pause - before;
    if (i % perBlock === 0) atBoundary++;
    else elsewhere++;
  }
  const kind = file.replace(/-\d+\.json$/, "");
  (kinds[kind] ??= []).push({
    total: frames.at(-1)[1] - sends[0][1],
    latency: median(frames.map((f, i) => f[1] - sends[i][1])),
    late,
    connection,
    atBoundary,
    elsewhere: elsewhere / (perBlock - 1),
  });
}
for (const [kind, runs] of Object.entries(kinds)) {
  const m = (key) => median(runs.map((r) => r[key]));
  console.log(
    `${kind.padEnd(12)} n ${runs.length}  total ${m("total").toFixed(0)} ms  latency ${m("latency").toFixed(0)} ms  pauses: sender late ${m("late").toFixed(0)} ms, connection ${m("connection").toFixed(0)} ms  pauses ending a block ${m("atBoundary").toFixed(1)}, at each other frame position ${m("elsewhere").toFixed(1)}`,
  );
}
