// fauxqs imports node:sqlite for its optional persistence, which Node 20 lacks.
// The local environment never enables persistence, so this stand-in is never constructed.
export class DatabaseSync {
  constructor() {
    throw new Error("fauxqs persistence needs Node.js 22.5+; the local environment runs it in memory.");
  }
}
