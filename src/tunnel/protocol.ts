// The tunnel protocol, shared with the agent. Its one implementation is
// local-agent/src/protocol.js (plain JavaScript, so the agent runs on Node 20 without a
// build step; types in protocol.d.ts beside it); the Worker bundles the same file.
export * from '../../local-agent/src/protocol.js';
