package ep4j.cuda.kernel;

import ep4j.codec.Fp8Mode;

/** The data format of a low-latency dispatch (contract.cuh: LlMode). */
public enum LlMode implements ContractEnum {
    BF16(0),
    FP8(1),
    FP8_ROUND_SCALE(2),
    FP8_UE8M0(3);

    private final int value;

    LlMode(int value) {
        this.value = value;
    }

    @Override
    public String cPrefix() {
        return "kLl";
    }

    @Override
    public int value() {
        return value;
    }

    /** The mode for an fp8 format, or {@link #BF16} for null (no fp8). */
    public static LlMode of(Fp8Mode fp8) {
        if (fp8 == null) {
            return BF16;
        }
        return switch (fp8) {
            case DEFAULT -> FP8;
            case ROUND_SCALE -> FP8_ROUND_SCALE;
            case UE8M0 -> FP8_UE8M0;
        };
    }

    /** Bytes of one row's scales: float32 per 128 channels, or UE8M0 bytes packed four to an int32. */
    public int scaleBytes(int hidden) {
        return switch (this) {
            case BF16 -> 0;
            case FP8, FP8_ROUND_SCALE -> 4 * (hidden / 128);
            case FP8_UE8M0 -> 4 * ((hidden / 128 + 3) / 4);
        };
    }
}
