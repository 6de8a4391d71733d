package ep4j.cuda.kernel;

/**
 * The count exchange's fields (contract.cuh: EP4J_EXCHANGE_PARAMS), the same in the two launches
 * that can run it: {@code ep4j_notify} ({@link NotifyParams}) and {@code ep4j_dispatch_bulk} with
 * {@link DispatchParams#EXCHANGE} set.
 */
public record ExchangeParams(CStruct.I32 numExperts, CStruct.I32 expertAlignment, CStruct.I64 oMailbox,
        CStruct.Ptr isTokenInRank, CStruct.Ptr tokensPerExpert, CStruct.Ptr handleInRank, CStruct.Ptr recvOffsets,
        CStruct.Ptr recvTokensPerExpert, CStruct.Ptr summary) {

    /** Declares the exchange's fields at this point of {@code b}. */
    static ExchangeParams declare(CStruct.Builder b) {
        return new ExchangeParams(b.i32("num_experts"), b.i32("expert_alignment"), b.i64("o_mailbox"),
                b.ptr("is_token_in_rank"), b.ptr("tokens_per_expert"), b.ptr("handle_in_rank"), b.ptr("recv_offsets"),
                b.ptr("recv_tokens_per_expert"), b.ptr("summary"));
    }

    /** What the exchange fields hold for one fresh dispatch. */
    public record Values(int numExperts, int expertAlignment, long mailbox, long isTokenInRank, long tokensPerExpert,
            long handleInRank, long recvOffsets, long recvTokensPerExpert, long summary) {
    }

    /** Writes {@code v} into {@code p}. */
    public Params fill(Params p, Values v) {
        return p.set(numExperts, v.numExperts()).set(expertAlignment, v.expertAlignment()).set(oMailbox, v.mailbox())
                .set(isTokenInRank, v.isTokenInRank()).set(tokensPerExpert, v.tokensPerExpert())
                .set(handleInRank, v.handleInRank()).set(recvOffsets, v.recvOffsets())
                .set(recvTokensPerExpert, v.recvTokensPerExpert()).set(summary, v.summary());
    }
}
