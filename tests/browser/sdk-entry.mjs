// What the page needs from matrix-js-sdk: the SDK as Element's browser build sees it (its
// "browser" entry point) plus the legacy 1:1 call API pieces the package index leaves out.
export * from 'matrix-js-sdk';
export { CallEventHandlerEvent } from 'matrix-js-sdk/lib/webrtc/callEventHandler.js';
export { CallState, CallType, CallDirection, CallErrorCode } from 'matrix-js-sdk/lib/webrtc/call.js';
