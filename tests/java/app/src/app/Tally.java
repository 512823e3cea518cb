package app;

import app.geom.Shape;

/** Sums the areas of the shapes it is given. */
final class Tally {
    private int count;
    private long area;

    void add(Shape s) {
        count++;
        area += s.area();
    }

    int count() {
        return count;
    }

    long totalArea() {
        return area;
    }
}
