import { runMain } from '@spincycle/common';
import { start } from './app.js';

runMain('hibp-service', start);
