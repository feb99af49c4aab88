import { runMain } from '@spincycle/common';
import { start } from './app.js';

runMain('gateway', start);
