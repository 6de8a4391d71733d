package ep4j.cli.term;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A plain-text table: a header, a dashed rule, rows. A column whose cells are all numbers (or
 * "-" for none) is right-aligned, others left-aligned. Columns are separated by two spaces and
 * lines carry no trailing spaces, so the output is stable for diffs and tests.
 */
public final class Table {
    private final List<String> header;
    private final List<List<String>> rows = new ArrayList<>();

    public Table(String... header) {
        if (header.length == 0) {
            throw new IllegalArgumentException("a table needs at least one column");
        }
        this.header = List.of(header);
    }

    /** Adds a row; values are shown with {@link String#valueOf}, null as "-". */
    public Table row(Object... cells) {
        if (cells.length != header.size()) {
            throw new IllegalArgumentException("row has " + cells.length + " cells, table has " + header.size()
                    + " columns " + header + ": " + Arrays.toString(cells));
        }
        List<String> r = new ArrayList<>();
        for (Object c : cells) {
            r.add(c == null ? "-" : String.valueOf(c));
        }
        rows.add(r);
        return this;
    }

    public int rowCount() {
        return rows.size();
    }

    public String render() {
        int n = header.size();
        int[] width = new int[n];
        boolean[] right = new boolean[n];
        for (int c = 0; c < n; c++) {
            width[c] = header.get(c).length();
            boolean numeric = !rows.isEmpty();
            for (List<String> r : rows) {
                width[c] = Math.max(width[c], r.get(c).length());
                numeric &= isNumber(r.get(c));
            }
            right[c] = numeric;
        }
        StringBuilder sb = new StringBuilder();
        line(sb, header, width, right);
        List<String> rule = new ArrayList<>();
        for (int w : width) {
            rule.add("-".repeat(w));
        }
        line(sb, rule, width, right);
        for (List<String> r : rows) {
            line(sb, r, width, right);
        }
        return sb.toString();
    }

    private static void line(StringBuilder sb, List<String> cells, int[] width, boolean[] right) {
        StringBuilder l = new StringBuilder();
        for (int c = 0; c < cells.size(); c++) {
            String s = cells.get(c);
            String padding = " ".repeat(width[c] - s.length());
            if (c > 0) {
                l.append("  ");
            }
            l.append(right[c] ? padding + s : s + padding);
        }
        sb.append(l.toString().stripTrailing()).append('\n');
    }

    static boolean isNumber(String s) {
        if (s.equals("-")) {
            return true;
        }
        try {
            Double.parseDouble(s.endsWith("%") || s.endsWith("x") ? s.substring(0, s.length() - 1) : s);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    @Override
    public String toString() {
        return render();
    }
}
