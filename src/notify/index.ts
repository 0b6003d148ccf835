export { Notifier, NOTIFY_FAILED_EVENT, type NotifierOptions, type NotifyingWebhook } from './notifier.js';
export { notificationOf, notificationOfAuditEvent, NOTIFYING_EVENTS, type Notification } from './notification.js';
export { notificationText, webhookBody, itemLabel, type NotifiedItem, type WebhookBody } from './format-notification.js';
export { WebhookDispatcher, postWithFetch, retryDelayMs, type DeliveryFailure, type DeliveryPolicy, type PostWebhook, type WebhookDestination } from './webhook-dispatcher.js';
