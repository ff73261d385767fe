// The minimal mesh page of the baselines: one RTCPeerConnection and data
// channel per pair, candidates buffered until the remote description is set.
// `window.bareJoin(room, serial, server?)` joins, through the bare relay or,
// given `server`, through the no-logic relay Durable Object; `window.bare`
// records the timings.
window.bare = { joinedAt: 0, connectedAt: [] };

window.bareJoin = (room, serial, server) =>
  new Promise((resolve) => {
    const socket = new WebSocket(
      server
        ? `${server.replace("http", "ws")}/r/${room}/ws`
        : `${location.origin.replace("http", "ws")}/?room=${room}&mode=${serial ? "serial" : "parallel"}`,
    );
    const links = new Map();
    window.bare.joinedAt = Date.now();
    const send = (message) => socket.send(JSON.stringify(message));
    const connected = () => window.bare.connectedAt.push(Date.now());
    const link = (id) => {
      const pc = new RTCPeerConnection();
      const entry = { pc, pending: [], ready: false };
      pc.onicecandidate = ({ candidate }) => send({ type: "candidate", to: id, candidate });
      links.set(id, entry);
      return entry;
    };
    const applyCandidates = async (entry) => {
      entry.ready = true;
      for (const candidate of entry.pending.splice(0)) await entry.pc.addIceCandidate(candidate);
    };
    const offer = async (id) => {
      const entry = link(id);
      const channel = entry.pc.createDataChannel("chat");
      const open = new Promise((done) => (channel.onopen = done));
      await entry.pc.setLocalDescription();
      send({ type: "offer", to: id, sdp: entry.pc.localDescription.sdp });
      await open;
      connected();
    };
    socket.onmessage = async ({ data }) => {
      const message = JSON.parse(data);
      if (message.type === "welcome") {
        // The newcomer offers to everyone; serially, one pair at a time, and says when it is done.
        // The relay DO lists peers as {id, name}; the bare relay as ids.
        const peers = message.peers.map((peer) => (typeof peer === "string" ? peer : peer.id));
        if (serial) for (const id of peers) await offer(id);
        else await Promise.all(peers.map(offer));
        if (serial) send({ type: "onboarded" });
        resolve();
      } else if (message.type === "offer") {
        const entry = link(message.from);
        entry.pc.ondatachannel = ({ channel }) => (channel.onopen = connected);
        await entry.pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
        await entry.pc.setLocalDescription();
        send({ type: "answer", to: message.from, sdp: entry.pc.localDescription.sdp });
        await applyCandidates(entry);
      } else if (message.type === "answer") {
        const entry = links.get(message.from);
        await entry.pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
        await applyCandidates(entry);
      } else if (message.type === "candidate") {
        const entry = links.get(message.from);
        if (!entry) return;
        if (entry.ready) await entry.pc.addIceCandidate(message.candidate);
        else entry.pending.push(message.candidate);
      }
    };
  });
