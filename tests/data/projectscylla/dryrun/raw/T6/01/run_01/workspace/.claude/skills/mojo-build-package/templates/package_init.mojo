"""Package Name - Brief description.

This package provides [functionality description].

Example usage:
    from package_name import ClassName, function_name

    fn main():
        var obj = ClassName()
        var result = function_name(obj)
"""

# Import modules to re-export
# from .module1 import Class1, function1
# from .module2 import Class2, function2

# Define public API
__all__ = [
    # "Class1",
    # "Class2",
    # "function1",
    # "function2",
]

# Package version
__version__ = "0.1.0"
