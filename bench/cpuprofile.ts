/**
 * Where a page's main thread spends its time: self time per function of a
 * CDP `Profiler` profile, with the library's minified functions mapped back
 * to their source (file:line and name) through its source map.
 */

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

export interface Profile {
  nodes: { id: number; callFrame: CallFrame }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  name: string;
  ms: number;
  /** Share of the profile's wall time, in percent. */
  percent: number;
}

interface SourceMap {
  sources: string[];
  names: string[];
  mappings: string;
}

/** [generated column, source, original line, original column, name?] per generated line. */
type Segment = [number, number, number, number, number | undefined];

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function decodeMappings(mappings: string): Segment[][] {
  const lines: Segment[][] = [];
  let source = 0;
  let line = 0;
  let column = 0;
  let name = 0;
  for (const text of mappings.split(";")) {
    const segments: Segment[] = [];
    let generated = 0;
    for (const part of text.split(",")) {
      if (!part) continue;
      const values: number[] = [];
      let value = 0;
      let shift = 0;
      for (const char of part) {
        const digit = BASE64.indexOf(char);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      generated += values[0] ?? 0;
      if (values.length >= 4) {
        source += values[1] ?? 0;
        line += values[2] ?? 0;
        column += values[3] ?? 0;
        if (values.length >= 5) name += values[4] ?? 0;
        segments.push([generated, source, line, column, values.length >= 5 ? name : undefined]);
      }
    }
    lines.push(segments);
  }
  return lines;
}

/** Maps a generated position (0-based line and column) to "name (file.ts:line)". */
export function sourceMapper(map: SourceMap): (frame: CallFrame) => string | null {
  const lines = decodeMappings(map.mappings);
  return (frame) => {
    const segments = lines[frame.lineNumber] ?? [];
    let found: Segment | undefined;
    for (const segment of segments) {
      if (segment[0] > frame.columnNumber) break;
      found = segment;
    }
    if (!found) return null;
    const file = (map.sources[found[1]] ?? "?").replace(/^.*\/src\//, "");
    const name = found[4] === undefined ? frame.functionName || "(anonymous)" : map.names[found[4]];
    return `${name} (${file}:${found[2] + 1})`;
  };
}

/** Self time per function, largest first; `describe` names a frame from its script (source-mapped). */
export function selfTimes(profile: Profile, describe: (frame: CallFrame) => string | null): SelfTime[] {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const byName = new Map<string, number>();
  for (let i = 0; i < samples.length; i++) {
    // A sample stands for the time until the next one.
    const us = deltas[i + 1] ?? 0;
    const frame = frames.get(samples[i] ?? -1);
    if (!frame) continue;
    const where = frame.url ? (describe(frame) ?? `${frame.functionName || "(anonymous)"} (${shortUrl(frame)})`) : null;
    const name = where ?? (frame.functionName.startsWith("(") ? frame.functionName : `${frame.functionName} (native)`);
    byName.set(name, (byName.get(name) ?? 0) + us);
  }
  const wall = profile.endTime - profile.startTime;
  return [...byName]
    .map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, percent: Math.round((1000 * us) / wall) / 10 }))
    .sort((a, b) => b.ms - a.ms);
}

function shortUrl(frame: CallFrame): string {
  return `${frame.url.replace(/^.*\//, "")}:${frame.lineNumber + 1}:${frame.columnNumber + 1}`;
}
