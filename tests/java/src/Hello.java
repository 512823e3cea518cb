/** A small program for the -Xshare cases: class loading from the CDS archive or not. */
public final class Hello {
    public static void main(String[] args) {
        StringBuilder sb = new StringBuilder();
        for (String s : java.util.List.of("alpha", "beta", "gamma")) {
            sb.append(s.toUpperCase()).append(' ');
        }
        System.out.println(sb.toString().trim());
        System.out.println("sum=" + java.util.stream.IntStream.rangeClosed(1, 1000).sum());
    }
}
