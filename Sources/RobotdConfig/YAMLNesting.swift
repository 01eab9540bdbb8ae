// libyaml is Yams' C target. Yams imports it implementation-only and does not export it as a
// product, but SwiftPM puts its module map on every dependent's search path; if a Yams release
// stops doing so, this file needs a copy of the four declarations it uses.
import CYaml

/// Bounds the nesting of a YAML text before Yams composes it.
///
/// Yams builds the node tree recursively, one call of `Parser.loadNode` → `loadSequence` /
/// `loadMapping` per level, and libyaml sets no nesting limit, so 5 000 nested `[` overflow the
/// stack. libyaml's own event parser is not recursive: this pass runs it alone, counting
/// sequence and mapping starts, and stops at the first level beyond the limit. Syntax errors are
/// left to the composing pass, which words them with context.
enum YAMLNesting {
    /// Deepest nesting of sequences and mappings accepted; robotd's schema needs 4
    /// (`limits.joints.<name>.velocity`), and lists of lists are never needed.
    static let maxDepth = 64

    /// The 1-based line of the first collection nested deeper than `maxDepth`, or nil when the
    /// text stays within it (or is not YAML, which the composing pass reports).
    static func firstTooDeepLine(in text: String) -> Int? {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBufferPointer { buffer -> Int? in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { return nil }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            var depth = 0
            var event = yaml_event_t()
            while yaml_parser_parse(&parser, &event) == 1 {
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    depth += 1
                    if depth > maxDepth { return Int(event.start_mark.line) + 1 }
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    depth -= 1
                case YAML_STREAM_END_EVENT:
                    return nil
                default:
                    break
                }
            }
            return nil
        }
    }
}
