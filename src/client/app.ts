import { joinRoom } from "/mesh.js";

joinRoom("placeholder");
