/**
 * The PeerJS server (npm `peer`), the Node signaling server people use today,
 * as its own process so its CPU and memory can be measured apart.
 * Usage: node bench/peerjs-server.ts PORT
 */
import { PeerServer } from "peer";

const port = Number(process.argv[2]);
PeerServer({ host: "127.0.0.1", port, path: "/", concurrent_limit: 100_000, alive_timeout: 600_000 }, () => {
  console.log(`peerjs ready on ${port}`);
});
