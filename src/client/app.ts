/**
 * The Rendezvous web app, built on `/mesh.js` exactly as any page would use it.
 * `/r/:room` runs the room app; `/` the landing page, which never joins a room.
 */
import { generateKey, joinRoom } from "/mesh.js";
import { startLanding } from "./ui/landing";
import { roomFromPath } from "./ui/names";
import { startRoom } from "./ui/room";

const room = roomFromPath(location.pathname);
if (room !== null && document.getElementById("room-name")) startRoom(room, { joinRoom, generateKey });
else if (document.getElementById("create-room")) startLanding(generateKey);
