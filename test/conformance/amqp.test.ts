/** The broker conformance suite against RabbitMQ (the machine's, vhost /). */
import { AmqpTransport } from '../../src/broker/amqp/transport.js';
import { serviceSkip } from '../helpers/services.js';
import { brokerConformance } from './broker-suite.js';

brokerConformance('amqp://', async () => {
  const skip = await serviceSkip('rabbitmq');
  if (skip) return skip;
  return {
    connect: async () => {
      const t = new AmqpTransport({ url: 'amqp://guest:guest@127.0.0.1:5672//', transportOptions: {} });
      await t.connect();
      return t;
    },
    features: { priorities: true, fanout: true, topic: true, sharedAcrossConnections: true },
    teardown: async () => undefined,
  };
});
