/**
 * What the shared conformance suites need from a driver under test. Each driver has one small
 * runner file (`test/conformance/<driver>.test.ts`) that builds a harness and calls
 * `brokerConformance` (./broker-suite.ts) or `backendConformance` (./backend-suite.ts).
 */
import type { Transport } from '../../src/broker/port.js';
import type { ResultBackend } from '../../src/backends/port.js';

/** A broker driver under test. */
export interface BrokerHarness {
  /** A new, connected transport on the shared broker; each call is a new connection. */
  connect(): Promise<Transport>;
  /** What the driver supports beyond the basics. */
  features: {
    /** Higher-priority messages are delivered first. */
    priorities: boolean;
    /** Fanout exchanges copy a message to every bound queue. */
    fanout: boolean;
    /** Topic exchanges route by pattern. */
    topic: boolean;
    /** Two transports (connections) share the same queues (false for memory://, one per app). */
    sharedAcrossConnections: boolean;
  };
  /** Removes what the suite created (called once, after all tests). */
  teardown(): Promise<void>;
}

/** A result backend under test. */
export interface BackendHarness {
  /** A new, connected backend on the shared store; each call is a new connection. */
  create(): Promise<ResultBackend>;
  features: {
    /** The backend offers atomic chord counting (`backend.chords`). */
    chords: boolean;
    /** Records written by one connection are visible to another (false for memory://). */
    sharedAcrossConnections: boolean;
    /**
     * Records keep `children`, `parent_id` and `group_id` (false for Celery's SQL tables, which have
     * no columns for them). @defaultValue true
     */
    keepsLinks?: boolean;
    /** The largest stored value, in bytes, where the store limits it (MySQL `BLOB`). @defaultValue unlimited */
    maxValueBytes?: number;
  };
  teardown(): Promise<void>;
}
