package ep4j.cli.bench;

import ep4j.EpGroup;
import ep4j.cuda.PeerCopy;

/**
 * The GPU baseline: every GPU writes the bytes the case sends to each peer straight into that
 * peer's memory with 16-byte SM stores, all GPUs at once, each peer on its own stream. Its time
 * is what NVLink gives for exactly the bytes that must cross it (a rank's own tokens stay in
 * its HBM and are not part of it).
 */
final class PeerCopyBaseline implements Baseline {
    @Override
    public String name() {
        return "peer write";
    }

    @Override
    public String description() {
        return "every GPU writes its cross-GPU bytes into the peers at once with SM stores, "
                + PeerCopy.BLOCKS_PER_PEER + " blocks per peer";
    }

    @Override
    public boolean crossOnly() {
        return true;
    }

    @Override
    public Copy prepare(EpGroup group, long[][] bytes) {
        int ranks = group.size();
        PeerCopy[] copies = new PeerCopy[ranks];
        return new Copy() {
            @Override
            public boolean available() {
                return ranks > 1;
            }

            @Override
            public String note() {
                return ranks > 1 ? "" : "one GPU: nothing crosses NVLink";
            }

            @Override
            public void setUp(int rank) {
                long[] toPeer = new long[ranks];
                for (int dst = 0; dst < ranks; dst++) {
                    toPeer[dst] = bytes[dst][rank];
                }
                copies[rank] = new PeerCopy(group, rank, toPeer);
            }

            @Override
            public void run(int rank) {
                copies[rank].run();
            }

            @Override
            public void close() {
                for (PeerCopy c : copies) {
                    if (c != null) {
                        c.close();
                    }
                }
            }
        };
    }
}
