import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GoogleAuth } from "google-auth-library";
import { afterEach, describe, expect, it } from "vitest";
import { ScaledClock } from "../clock/index.ts";
import { CredentialsError, resolveCredentials } from "./credentials.ts";

describe("resolveCredentials", () => {
  let server: Server | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("tries an unreachable token endpoint a bounded number of times with backoff, then names it", async () => {
    // A token endpoint that accepts each connection and drops it at once: Node reports
    // ECONNRESET, a system error (no answer at all), which is worth trying again.
    let connections = 0;
    server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    dir = await mkdtemp(join(tmpdir(), "capstan-creds-"));
    // User credentials, as `gcloud auth application-default login` writes them; their
    // token endpoint is configurable (OAuth2Client's endpoints), so the test stays on loopback.
    const keyFile = join(dir, "adc.json");
    await writeFile(
      keyFile,
      JSON.stringify({ type: "authorized_user", client_id: "c", client_secret: "s", refresh_token: "r" }),
    );
    const auth = new GoogleAuth({
      keyFile,
      scopes: ["https://www.googleapis.com/auth/cloud-platform"],
      clientOptions: { endpoints: { oauth2TokenUrl: `http://127.0.0.1:${port}/token` } },
    });
    const resolve = (tokenAttempts: number) =>
      resolveCredentials(auth, {
        tokenAttempts,
        // The backoff's 1 s, 2 s, ... in milliseconds of real time.
        clock: new ScaledClock({ scale: 1000 }),
      }).catch((e: unknown) => e);
    // One attempt, to learn how many connections the auth library makes per attempt (it
    // has retries of its own), then three.
    await resolve(1);
    const perAttempt = connections;
    expect(perAttempt).toBeGreaterThanOrEqual(1);
    connections = 0;
    const err = await resolve(3);
    expect(err).toBeInstanceOf(CredentialsError);
    expect((err as CredentialsError).code).toBe("UNREACHABLE");
    expect((err as Error).message).toBe(
      `could not reach 127.0.0.1:${port} to get an access token (ECONNRESET) after 3 attempts`,
    );
    expect(connections).toBe(3 * perAttempt);
  });
});
