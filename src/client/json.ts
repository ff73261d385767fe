/** JSON from the network: anything that is not a JSON string parses to `undefined`, for the schema to refuse. */
export function parseJson(data: unknown): unknown {
  if (typeof data !== "string") return undefined;
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}
