package app.geom;

/** A w x h rectangle. */
public record Rect(long w, long h) implements Shape {
    @Override
    public long area() {
        return w * h;
    }
}
