import type { Notifier, PromotionNotification } from '../../activities/notify/notifier.js';

/** A notifier that remembers what it was told, and can be made to fail its first calls. */
export class RecordingNotifier implements Notifier {
  readonly name = 'recording';
  readonly received: PromotionNotification[] = [];
  private failuresLeft = 0;

  failNext(times: number): void {
    this.failuresLeft = times;
  }

  notify(notification: PromotionNotification): Promise<void> {
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      return Promise.reject(new Error('notification-controller unavailable (simulated)'));
    }
    this.received.push(notification);
    return Promise.resolve();
  }
}
