// The node registrar: the one writer of tools' backends, verifying each port with the kernel
// (docs/reference/registrar.md).
export { Registrar, DEFAULT_LEASE_MS, type RegistrarOptions } from './registrar.js';
export { RegistrarClient, withRegistrar, type RegistrarClientOptions } from './registrar-client.js';
export { registrarDir, socketPath, DEFAULT_REGISTRAR_DIR, type Hello, type Listing, type RegisteredBackend } from './protocol.js';
export { listeningSockets, listensOn, parseProcNet, type ListeningSocket } from './listening-sockets.js';
