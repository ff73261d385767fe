import { expect } from "vitest";

/** Asserts the Worker's one error shape, `{"error":{"code","message"}}` as JSON; returns the body as sent. */
export async function expectHttpError(response: Response, status: number, code: string): Promise<string> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  const text = await response.text();
  const body: unknown = JSON.parse(text);
  expect(body).toEqual({ error: { code, message: expect.any(String) } });
  return text;
}
