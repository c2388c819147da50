// Drives the unmodified, pinned Segment and RudderStack Node libraries against the API:
// every call type in one batch, then a resend of the track call with the same messageId.
// Usage: node segment-clients.mjs <api-url> <write-key> <run-id>. Prints a JSON summary on stdout.
import { Analytics } from '@segment/analytics-node';
import Rudder from '@rudderstack/rudder-sdk-node';

const [url, writeKey, run] = process.argv.slice(2);
const summary = { segment: { statuses: [], errors: [] }, rudder: { errors: [] } };

const segment = new Analytics({ writeKey, host: url, flushAt: 20, flushInterval: 100, maxRetries: 10 });
segment.on('http_response', (r) => summary.segment.statuses.push(r.status));
segment.on('error', (e) => summary.segment.errors.push(String(e.reason ?? e.code ?? e)));
const rudder = new Rudder(writeKey, {
  dataPlaneUrl: url, flushAt: 20, flushInterval: 100, retryCount: 10,
  errorHandler: (e) => summary.rudder.errors.push(String(e)),
});

// The same six calls through each library, each with its own messageId.
function calls(client, library) {
  const id = (call) => `${run}-${library}-${call}`;
  const userId = `user-${library}`;
  client.track({ userId, event: 'Order Completed', properties: { orderId: 'o-1', revenue: 42.5 }, messageId: id('track') });
  client.identify({ userId, traits: { email: `${library}@example.com`, plan: 'pro' }, messageId: id('identify') });
  client.page({ userId, name: 'Pricing', category: 'Docs', properties: { path: '/pricing' }, messageId: id('page') });
  client.screen({ userId, name: 'Home', properties: { variant: 'b' }, messageId: id('screen') });
  client.group({ userId, groupId: 'g-1', traits: { name: 'Initech' }, messageId: id('group') });
  client.alias({ userId, previousId: `anon-${library}`, messageId: id('alias') });
}

const flushRudder = () => new Promise((resolve, reject) => rudder.flush((err) => (err ? reject(err) : resolve())));

calls(segment, 'segment');
calls(rudder, 'rudder');
await Promise.all([segment.flush(), flushRudder()]);

// A resend: the same track call, same messageId, in a later request.
segment.track({ userId: 'user-segment', event: 'Order Completed', properties: { orderId: 'o-1', revenue: 42.5 }, messageId: `${run}-segment-track` });
rudder.track({ userId: 'user-rudder', event: 'Order Completed', properties: { orderId: 'o-1', revenue: 42.5 }, messageId: `${run}-rudder-track` });
await Promise.all([segment.closeAndFlush(), flushRudder()]);

console.log(JSON.stringify(summary));
