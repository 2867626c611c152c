import { Celeriac, Worker, createLogger } from '../../src/index.js';
import { registerIntegrationTasks } from './celery-integration.tasks.js';
const Q = process.env['IT_QUEUE']!;
const app = new Celeriac('celery-it', { broker: 'redis://127.0.0.1:6379/6', backend: 'redis://127.0.0.1:6379/6', taskDefaultQueue: Q, taskDefaultExchange: Q, taskDefaultRoutingKey: Q, logger: createLogger({ level: 'warn' }) });
registerIntegrationTasks(app, 'redis://127.0.0.1:6379/6', Q);
const worker = new Worker(app, { queues: [Q], concurrency: 4, logger: createLogger({ level: 'warn' }) });
await worker.start();
console.log('ready');
