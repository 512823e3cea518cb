/**
 * Throws and catches NullPointerException N times (default one million). HotSpot
 * compiles the field load below with an implicit null check: the null
 * dereference faults (SIGSEGV), its signal handler turns the fault into the
 * exception and returns through sigreturn to the exception path.
 */
public final class Npe {
    static final class Box {
        int value;
    }

    static int load(Box b) {
        return b.value;
    }

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        Box box = new Box();
        box.value = 3;
        long sum = 0;
        int caught = 0;
        for (int i = 0; i < n; i++) {
            try {
                sum += load(null);
            } catch (NullPointerException e) {
                caught++;
                sum += load(box);
            }
        }
        System.out.println("iterations=" + n + " caught=" + caught + " sum=" + sum);
        try {
            load(null);
        } catch (NullPointerException e) {
            System.out.println("message=" + e.getMessage());
        }
    }
}
