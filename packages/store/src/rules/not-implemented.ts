import { BatonError } from '@baton/core';

export class NotImplementedYet extends BatonError {
  constructor(message: string) {
    super('NOT_IMPLEMENTED', message, 501);
  }
}
